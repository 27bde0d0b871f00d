import time
time.sleep(0.03)
VALUE = 42
