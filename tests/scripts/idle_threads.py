"""Two extra threads that wait until the process is killed; prints "ready" once they run."""
import sys
import threading

stop = threading.Event()
threads = [threading.Thread(target=stop.wait, daemon=True) for _ in range(2)]
for t in threads:
    t.start()
print("ready", flush=True)
sys.stdin.read()  # until the test closes stdin or kills us
