#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Peak memory of delivery: N messages of S MB, each with EICAR in an attachment and sent to a
subscriber (the cleaned copy) and a non-subscriber (the original), so every message leaves as
two copies. The messages are queued while the next hop (Postfix's smtp-sink) is down; then
it starts and all 2 x N copies go out together. Prints kensad's peak RSS (VmHWM) for the
receipt and, reset in between (/proc/PID/clear_refs), for the delivery.

  python3 bench/delivery_memory_bench.py [--kensad PATH] [--messages 16] [--mb 50]

Needs smtp-sink (Debian's postfix package) and root (smtp-sink -u postfix)."""
import argparse
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import kensa_harness as h  # noqa: E402
import scan_helpers as sh  # noqa: E402


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def message(i, attachment):
    body = sh.multipart("mixed", [
        sh.text_part(f"bench-{i}"),
        sh.attachment("data.bin", attachment),
        sh.attachment("eicar.com", sh.EICAR, target=True)], f"bench-{i}")
    return sh.render(sh.message(sh.top_headers(f"bench-{i}", f"sub{i}@{h.LOCAL_DOMAIN}"),
                                body)).data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kensad", default=h.KENSAD)
    ap.add_argument("--messages", type=int, default=16)
    ap.add_argument("--mb", type=int, default=50, help="message size in MB (as sent)")
    ap.add_argument("--senders", type=int, default=4, help="parallel SMTP clients")
    args = ap.parse_args()
    h.KENSAD = args.kensad

    # base64 grows the attachment by 4/3 plus line ends.
    attachment = random.Random(1).randbytes(int(args.mb * 1e6 * 0.74))
    sink = h.SmtpSink(dump=False)
    kensad = h.Kensad({
        "log_level": "warning",
        "smtp": {"max_message_bytes": (args.mb + 10) * 1000 * 1000},
        "policy": {"inbound_addresses": [f"sub{i}@{h.LOCAL_DOMAIN}"
                                         for i in range(args.messages)]},
        "delivery": {"max_connections_per_next_hop": 2 * args.messages},
    }, next_hop=f"smtp://127.0.0.1:{sink.port}?tls=none", tls="none")
    try:
        kensad.start()
        pid = kensad.pid
        idle = status_kb(pid, "VmRSS")
        t0 = time.monotonic()
        failures = []
        todo = list(range(args.messages))
        lock = threading.Lock()

        def sender():
            while True:
                with lock:
                    if not todo:
                        return
                    i = todo.pop(0)
                data = message(i, attachment)
                (o,) = sh.send_all(kensad.port, [("sender@example.org",
                                                  [f"sub{i}@{h.LOCAL_DOMAIN}",
                                                   f"other{i}@{h.LOCAL_DOMAIN}"], data)],
                                   timeout=300)
                if o.code != 250:
                    failures.append(o)
        threads = [threading.Thread(target=sender) for _ in range(args.senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if failures:
            sys.exit(f"not accepted: {failures}")
        received = time.monotonic() - t0
        receipt_peak = status_kb(pid, "VmHWM")
        time.sleep(2)  # the allocator returns what the receipt freed
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        before = status_kb(pid, "VmRSS")
        t1 = time.monotonic()
        sink.start()
        if not h.wait_until(lambda: not kensad.spool_files(), 600, 0.2):
            sys.exit("not delivered in 600 s\n" + kensad.diagnostics())
        delivered = time.monotonic() - t1
        delivery_peak = status_kb(pid, "VmHWM")
        print(f"kensad {args.kensad}")
        print(f"{args.messages} messages of {args.mb} MB, 2 copies each, {args.senders} senders")
        print(f"idle RSS               {idle / 1024:8.1f} MB")
        print(f"receipt  peak (VmHWM)  {receipt_peak / 1024:8.1f} MB   ({received:.1f} s)")
        print(f"before delivery RSS    {before / 1024:8.1f} MB")
        print(f"delivery peak (VmHWM)  {delivery_peak / 1024:8.1f} MB   ({delivered:.1f} s)")
        print(f"overall peak           {max(receipt_peak, delivery_peak) / 1024:8.1f} MB")
    finally:
        kensad.close(check=False)
        sink.close()


if __name__ == "__main__":
    main()
