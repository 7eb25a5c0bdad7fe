"""What the bench/run-* scripts share: processes and ports, the machine they
ran on, and rewriting their section of docs/BENCHMARKS.md."""
import os, platform, re, socket, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "BENCHMARKS.md")
DOC_HEAD = ("# Benchmarks\n\nEvery figure here was produced by a script under `bench/` on the machine named with it. "
            "Ratios compare systems measured in the same run.\n")


def sh(cmd, **kw):
    """Runs a shell command, fails on a non-zero exit, returns its stdout."""
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid, field="VmRSS"):
    """A memory figure of a process from /proc (VmRSS now, VmHWM its peak), in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def wait_port(port, proc, timeout):
    """Waits until 127.0.0.1:port accepts connections; fails if proc exits first."""
    end = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            if time.time() > end:
                raise RuntimeError(f"server did not accept connections on port {port} within {timeout} s")
            time.sleep(0.02)


def cpu_model():
    return sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'").strip() or platform.processor()


def ram_gib():
    return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)


def go_version():
    return sh("go version").strip()


def write_section(name, section):
    """Replaces the text between <!-- name:begin --> and <!-- name:end --> in
    docs/BENCHMARKS.md with section (which carries both markers), or appends it."""
    doc = open(DOC).read() if os.path.exists(DOC) else DOC_HEAD
    if f"<!-- {name}:begin -->" in doc:
        doc = re.sub(rf"<!-- {name}:begin -->.*<!-- {name}:end -->", lambda _: section, doc, flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section + "\n"
    open(DOC, "w").write(doc)


def stop(proc, timeout=30):
    """SIGTERM, then SIGKILL if proc has not exited within timeout seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
