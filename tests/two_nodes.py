"""Two torchrun "nodes" on this machine for the multi-node tests of the dist_*.sh scripts:
two launchers (NNODES=2, NODE_RANK 0 and 1, one process each) meeting on 127.0.0.1.

The port: node 0's launcher binds it (torchrun's store); one chosen free beforehand could be
taken before that. Ports are drawn below Linux's ephemeral range (32768–60999), where the
system never hands one out (torchrun --standalone, servers on port 0); if another program
holds the drawn one, node 0 fails to bind, both are stopped and started on another.
"""
from __future__ import annotations

import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import stop_launcher

PORTS = (20000, 32000)
CRASH_HOOK = Path(__file__).resolve().parent / 'multinode' / 'node_crash'


@dataclass
class Node:
    returncode: int
    log: str


def _port_taken(log: str) -> bool:
    return 'EADDRINUSE' in log or 'address already in use' in log.lower()


def run_two_nodes(cmd: list, env: dict, logs: Path, timeout: float = 300,
                  cwd=(None, None), crash: str | None = None) -> list[Node]:
    """Run `cmd` as node 0 and node 1 (in `cwd[i]`); `crash`: node 1 crashes there
    (node_crash/sitecustomize.py, e.g. 'region:1'). Every process is stopped on return."""
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):
        port = random.randrange(*PORTS)
        procs, files = [], []
        try:
            for node in (0, 1):
                node_env = dict(env, NNODES='2', NODE_RANK=str(node), MASTER_ADDR='127.0.0.1',
                                PORT=str(port))
                if node == 1 and crash:
                    node_env['NODE_CRASH'] = crash
                    node_env['PYTHONPATH'] = os.pathsep.join(
                        [str(CRASH_HOOK), env.get('PYTHONPATH', '')])
                files.append(open(logs / f'node{node}.{attempt}.log', 'w'))
                procs.append(subprocess.Popen([str(c) for c in cmd], cwd=cwd[node],
                                              env=node_env, stdout=files[-1],
                                              stderr=subprocess.STDOUT))
            deadline = time.monotonic() + timeout
            while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
                failed = [p for p in procs if p.poll() not in (None, 0)]
                if failed and _port_taken((logs / f'node0.{attempt}.log').read_text()):
                    break                  # node 1 would wait for node 0's store for ever
                if failed:                 # the other node's worker fails at its next
                    deadline = min(deadline, time.monotonic() + 60)   # collective
                time.sleep(0.2)
        finally:
            for proc in procs:
                stop_launcher(proc)
            for f in files:
                f.close()
        texts = [(logs / f'node{node}.{attempt}.log').read_text(errors='replace')
                 for node in (0, 1)]
        if procs[0].returncode != 0 and _port_taken(texts[0]):
            continue                       # another program holds the port: draw again
        return [Node(p.returncode, t) for p, t in zip(procs, texts)]
    raise RuntimeError('five ports in a row were taken')
