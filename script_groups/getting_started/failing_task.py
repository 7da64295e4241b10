#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Always fails: writes an error to stderr and exits with code 3
@description_es: Siempre falla: escribe un error en stderr y termina con código 3
@description_it: Fallisce sempre: scrive un errore su stderr ed esce con codice 3
@description_fr: Échoue toujours : écrit une erreur sur stderr et se termine avec le code 3
@required_level: operator
@category: examples
@tags: demo,failure,exit-code
@parameters: [
  {"name": "reason", "type": "string", "default": "simulated failure",
   "description": {"en": "Error message to print", "es": "Mensaje de error a mostrar", "it": "Messaggio di errore da stampare", "fr": "Message d'erreur à afficher"}}
]
@execution_timeout: 30
"""
import argparse
import sys


def main():
    parser = argparse.ArgumentParser(description="Fails on purpose")
    parser.add_argument("--reason", default="simulated failure")
    args, _unknown = parser.parse_known_args()

    print("::progress 10 checking preconditions", flush=True)
    print("Checking preconditions...", flush=True)
    print(f"ERROR: {args.reason}", file=sys.stderr, flush=True)
    sys.exit(3)


if __name__ == "__main__":
    main()
