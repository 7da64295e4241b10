#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Works through a few steps, reporting progress and a final result
@description_es: Recorre varios pasos informando del progreso y de un resultado final
@description_it: Esegue alcuni passi riportando l'avanzamento e un risultato finale
@description_fr: Exécute quelques étapes en indiquant la progression et un résultat final
@required_level: operator
@category: examples
@tags: demo,progress,result
@parameters: [
  {"name": "steps", "type": "integer", "min": 1, "max": 50, "default": 5,
   "description": {"en": "Number of steps", "es": "Número de pasos", "it": "Numero di passi", "fr": "Nombre d'étapes"}},
  {"name": "delay", "type": "number", "min": 0, "max": 5, "default": 0.3,
   "description": {"en": "Seconds per step", "es": "Segundos por paso", "it": "Secondi per passo", "fr": "Secondes par étape"}}
]
@execution_timeout: 120
"""
import argparse
import json
import time


def main():
    parser = argparse.ArgumentParser(description="Progress protocol demo")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.3)
    args, _unknown = parser.parse_known_args()

    steps = max(1, min(50, args.steps))
    total = 0
    print(f"Starting {steps} steps", flush=True)
    for step in range(1, steps + 1):
        time.sleep(max(0.0, args.delay))
        total += step * step
        percent = round(step * 100 / steps)
        # Progress protocol: "::progress <0-100> [message]" on its own stdout line.
        print(f"::progress {percent} step {step} of {steps}", flush=True)
        print(f"step {step}: running total {total}", flush=True)
    # Result protocol: "::result <json>" as the last line.
    print("::result " + json.dumps({"steps": steps, "sum_of_squares": total}), flush=True)


if __name__ == "__main__":
    main()
