#!/usr/bin/env python3
"""An independent NATS subscriber: shares no code with mkube, knows only the README's
envelope schema. Subscribes to mkube.<node>.>, decodes each CBOR envelope and prints one JSON
line per event; exits after COUNT events or TIMEOUT seconds.

usage: subscriber.py NATS_URL NODE COUNT [TIMEOUT]
"""
import asyncio
import json
import sys

import cbor2
import nats

ENVELOPE_KEYS = {"v", "kind", "time", "node", "actor", "corr", "payload"}


async def main(url, node, count, timeout):
    nc = await nats.connect(url)
    done = asyncio.Event()
    seen = 0

    async def on_message(msg):
        nonlocal seen
        env = cbor2.loads(msg.data)
        if set(env) != ENVELOPE_KEYS:
            raise SystemExit(f"unexpected envelope keys {sorted(env)}")
        print(json.dumps({"subject": msg.subject, **env}), flush=True)
        seen += 1
        if seen >= count:
            done.set()

    await nc.subscribe(f"mkube.{node}.>", cb=on_message)
    await nc.flush()
    print("ready", flush=True)
    try:
        await asyncio.wait_for(done.wait(), timeout)
    finally:
        await nc.close()


if __name__ == "__main__":
    url, node, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
    asyncio.run(main(url, node, count, timeout))
