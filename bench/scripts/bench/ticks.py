"""
ScriptsManager Metadata:
@description: Prints the wall-clock time (ms since the epoch) every 20 ms, for the print → client latency
@required_level: operator
@parameters: [{"name": "lines", "type": "integer", "min": 1, "max": 10000, "default": 100}]
"""
import argparse
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--lines", type=int, default=100)
args, _ = parser.parse_known_args()
for i in range(args.lines):
    time.sleep(0.02)
    print(f"{time.time() * 1000:.3f}", flush=True)
