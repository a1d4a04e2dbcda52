#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
#
# Sends commands to a QEMU human monitor on a Unix socket and prints their
# output. Kernel addresses (pc=..., RIP=...) are followed by the symbol
# they fall in, from the guest kernel's System.map. The command "vcpus"
# prints one line per vCPU: its RIP, privilege level and whether it halts.
#
#   qemu-monitor.py SOCKET SYSTEM_MAP COMMAND...
#
# Used by scripts/vm.sh when a guest does not finish: QEMU still answers
# when the guest kernel does not.
import bisect
import re
import socket
import sys
import time

PROMPT = b"(qemu) "


def read_prompt(sock, deadline):
    data = b""
    while not data.endswith(PROMPT):
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data[: -len(PROMPT)] if data.endswith(PROMPT) else data


def load_symbols(path):
    addrs, names = [], []
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[1] in "tTwW":
                    addrs.append(int(parts[0], 16))
                    names.append(parts[2])
    except OSError:
        pass
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def symbolize(text, addrs, names):
    def sym(m):
        addr = int(m.group(2), 16)
        i = bisect.bisect_right(addrs, addr) - 1
        if i < 0 or addr < 0xFFFFFFFF80000000 or addr - addrs[i] > 0x100000:
            return m.group(0)
        return f"{m.group(0)} <{names[i]}+{addr - addrs[i]:#x}>"

    return re.sub(r"\b(pc|RIP)=(?:0x)?([0-9a-fA-F]{16})\b", sym, text)


def command(sock, cmd):
    sock.sendall(cmd.encode() + b"\n")
    out = read_prompt(sock, time.monotonic() + 20).decode(errors="replace")
    # The monitor echoes the command line, with terminal escapes.
    return [
        l
        for l in out.replace("\r", "").split("\n")
        if l.strip() and "\x1b" not in l and l.strip() != cmd
    ]


def vcpus(lines, addrs, names):
    """One line per vCPU from "info registers -a": where it is, halted or not."""
    out, cpu = [], None
    for line in lines:
        if re.match(r"^CPU#\d+$", line):
            cpu = line
        elif cpu and line.startswith("RIP="):
            rip = symbolize(line.split()[0], addrs, names)
            cpl = re.search(r"CPL=\d", line)
            halted = " halted" if "HLT=1" in line else ""
            out.append(f"{cpu}: {rip} {cpl.group(0) if cpl else ''}{halted}")
            cpu = None
    return out


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: qemu-monitor.py SOCKET SYSTEM_MAP COMMAND...")
    addrs, names = load_symbols(sys.argv[2])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    read_prompt(sock, time.monotonic() + 10)  # the banner
    for cmd in sys.argv[3:]:
        # "vcpus": a summary of "info registers -a", one line per vCPU.
        lines = command(sock, "info registers -a" if cmd == "vcpus" else cmd)
        print(f"(qemu) {cmd}")
        if cmd == "vcpus":
            lines = vcpus(lines, addrs, names)
        else:
            lines = [symbolize(l, addrs, names) for l in lines]
        print("\n".join(lines))
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except (OSError, socket.timeout) as e:
        sys.exit(f"QEMU monitor: {e}")
