#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Counts down for a number of seconds, printing a line every half second
@description_es: Cuenta atrás durante unos segundos, escribiendo una línea cada medio segundo
@description_it: Conto alla rovescia per alcuni secondi, stampando una riga ogni mezzo secondo
@description_fr: Compte à rebours pendant quelques secondes, en affichant une ligne toutes les demi-secondes
@required_level: operator
@category: examples
@tags: demo,long-running,cancel
@parameters: [
  {"name": "seconds", "type": "integer", "min": 1, "max": 3600, "default": 20,
   "description": {"en": "How long to run", "es": "Cuánto tiempo ejecutar", "it": "Quanto a lungo eseguire", "fr": "Durée d'exécution"}}
]
@execution_timeout: 3700
"""
import argparse
import json
import signal
import sys
import time


def main():
    parser = argparse.ArgumentParser(description="Long-running countdown")
    parser.add_argument("--seconds", type=int, default=20)
    args, _unknown = parser.parse_known_args()

    def stop(signum, _frame):
        print(f"Stopped by signal {signum}", flush=True)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    seconds = max(1, min(3600, args.seconds))
    ticks = seconds * 2
    for tick in range(ticks, 0, -1):
        print(f"{tick / 2:.1f} s left", flush=True)
        done = ticks - tick
        if done % 2 == 0:
            print(f"::progress {done * 100 // ticks} {tick / 2:.0f} s left", flush=True)
        time.sleep(0.5)
    print("::progress 100 done", flush=True)
    print("::result " + json.dumps({"seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
