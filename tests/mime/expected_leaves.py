#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
# Prints the decoded leaves another MIME implementation sees in a message, one per line as
# hex, for the MIME parser's corpus tests (scan/mime_corpus_test.cc):
#   expected_leaves.py python FILE...    leaves of CPython's email package (compat32 policy)
#   expected_leaves.py stalwart FILE...  binary and text parts of a stalwart mail-parser .json
# Each file's lines follow a line "#file PATH" (one Python start for many files: it is slow).
import json
import sys


def python_leaves(path):
    import email
    with open(path, 'rb') as f:
        msg = email.message_from_bytes(f.read())
    for part in msg.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if payload is None:
            payload = b''
        print(payload.hex())


def encoding_of(part):
    for h in part['headers']:
        value = h['value']
        if h['name'] == 'content_transfer_encoding' and 'uu' in json.dumps(value).lower():
            return 'uuencode'
        if h['name'] == 'content_type' and 'binhex' in json.dumps(value).lower():
            return 'binhex'
    return 'binary'


def stalwart_leaves(path):
    with open(path, encoding='utf-8') as f:
        doc = json.load(f)

    def walk(message):
        for part in message['parts']:
            body = part['body']
            kind, value = next(iter(body.items())) if isinstance(body, dict) else (body, None)
            if kind in ('Binary', 'InlineBinary'):
                # mail-parser also unpacks BinHex and decodes uuencode with its own rules;
                # those are libclamav's and the transfer decoders' business: say so.
                print(encoding_of(part), bytes(value).hex())
            elif kind in ('Text', 'Html'):
                print('text', value.encode('utf-8').hex())
            elif kind == 'Message':
                walk(value)

    walk(doc)


if __name__ == '__main__':
    leaves = {'python': python_leaves, 'stalwart': stalwart_leaves}[sys.argv[1]]
    for path in sys.argv[2:]:
        print('#file', path)
        leaves(path)
