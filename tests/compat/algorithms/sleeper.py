"""Compat-test algorithm that runs long enough to be stopped."""

import time

print("compat-sleeper: started", flush=True)
time.sleep(30)
print("compat-sleeper: woke up")
