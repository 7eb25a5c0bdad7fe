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


KAFKA_PROPS = """process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{cport}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}{ssl}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}{ssl}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL
log.dirs={dir}
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
"""


def kafka_prepare(libs, keystore=None):
    """Returns prep(dir, port, ssl_port=None): it formats a single-node Apache
    Kafka KRaft dir (so that the format stays outside a timed start) and returns
    the argv that starts it. With keystore (a PEM file holding the server's key
    and then its certificate chain, as `tickertape tls init` writes them) and
    ssl_port, the node also listens for SSL on ssl_port."""
    def prep(d, port, ssl_port=None):
        os.makedirs(d, exist_ok=True)
        props = os.path.join(d, "server.properties")
        ssl = f",SSL://127.0.0.1:{ssl_port}" if ssl_port else ""
        text = KAFKA_PROPS.format(port=port, cport=free_port(), dir=os.path.join(d, "log"), ssl=ssl)
        if ssl_port:
            text += f"ssl.keystore.type=PEM\nssl.keystore.location={keystore}\n"
        open(props, "w").write(text)
        subprocess.run(["java", "-cp", f"{libs}/*", "kafka.tools.StorageTool", "format", "-t", "q1Sh-9_ISia_zwGINzRvyQ", "-c", props],
                       check=True, capture_output=True)
        # kafka-server-start.sh defaults: 1 GiB heap, G1.
        return ["java", "-Xmx1G", "-Xms1G", "-XX:+UseG1GC", "-cp", f"{libs}/*", "kafka.Kafka", props]
    return prep


def load_average():
    """The 1-minute load average now."""
    return os.getloadavg()[0]


def stop(proc, timeout=30):
    """SIGTERM, then SIGKILL if proc has not exited within timeout seconds."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def settle_disk(path, quiet_s=3.0, slow_ms=20.0, timeout=30.0):
    """Waits until the filesystem under path is quiet after the previous run's
    files were deleted, so that no run pays for another's cleanup: it syncs,
    then appends 4 KiB to a probe file and fdatasyncs it every few
    milliseconds until none has taken over slow_ms for quiet_s. This machine's
    root filesystem is mounted with `discard`: after a 2.5 GB file is deleted,
    such probes stall for 90-270 ms again and again over the next 6 s (3-12 ms
    before the delete), which would land in the next system's measured window.
    Returns the seconds waited."""
    t0 = time.time()
    os.sync()
    probe = os.path.join(path, ".settle-probe")
    fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        quiet_since = time.time()
        while time.time() - quiet_since < quiet_s and time.time() - t0 < timeout:
            s = time.perf_counter()
            os.write(fd, b"\0" * 4096)
            os.fdatasync(fd)
            if (time.perf_counter() - s) * 1000 > slow_ms:
                quiet_since = time.time()
            time.sleep(0.005)
    finally:
        os.close(fd)
        os.remove(probe)
    return time.time() - t0
