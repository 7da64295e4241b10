"""
ScriptsManager Metadata:
@description: Prints many numbered lines as fast as possible
@required_level: operator
@parameters: [{"name": "lines", "type": "integer", "min": 1, "max": 10000000, "default": 200000}]
"""
import argparse
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--lines", type=int, default=200000)
args, _ = parser.parse_known_args()
out = sys.stdout
batch = []
for i in range(1, args.lines + 1):
    batch.append(f"line {i} of {args.lines}\n")
    if len(batch) == 1000:
        out.write("".join(batch))
        batch = []
out.write("".join(batch))
out.flush()
