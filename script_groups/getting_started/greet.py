#!/usr/bin/env python3
"""
ScriptsManager Metadata:
@description: Greets someone, optionally several times and loudly
@description_long: docs/greet.md
@description_es: Saluda a alguien, opcionalmente varias veces y en voz alta
@description_long_es: docs/greet_es.md
@description_it: Saluta qualcuno, eventualmente più volte e ad alta voce
@description_long_it: docs/greet_it.md
@description_fr: Salue quelqu'un, éventuellement plusieurs fois et à voix haute
@description_long_fr: docs/greet_fr.md
@required_level: operator
@category: examples
@tags: demo,parameters,hello
@parameters: [
  {"name": "name", "type": "string", "required": true,
   "description": {"en": "Who to greet", "es": "A quién saludar", "it": "Chi salutare", "fr": "Qui saluer"}},
  {"name": "times", "type": "integer", "min": 1, "max": 10, "default": 1,
   "description": {"en": "How many times", "es": "Cuántas veces", "it": "Quante volte", "fr": "Combien de fois"}},
  {"name": "shout", "type": "boolean", "default": false,
   "description": {"en": "Greet in capital letters", "es": "Saludar en mayúsculas", "it": "Salutare in maiuscolo", "fr": "Saluer en majuscules"}}
]
@execution_timeout: 60
"""
import argparse
import json

GREETINGS = {"en": "Hello", "es": "Hola", "it": "Ciao", "fr": "Bonjour"}


def flag(value):
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def main():
    parser = argparse.ArgumentParser(description="Greets someone")
    parser.add_argument("--language", default="en")
    parser.add_argument("--name", required=True)
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--shout", type=flag, default=False)
    args, _unknown = parser.parse_known_args()  # standard arguments we do not use are ignored

    times = max(1, min(10, args.times))
    greeting = GREETINGS.get(args.language, GREETINGS["en"])
    for i in range(times):
        line = f"{greeting}, {args.name}!"
        print(line.upper() if args.shout else line, flush=True)
    print("::result " + json.dumps({"greeted": args.name, "times": times, "language": args.language}), flush=True)


if __name__ == "__main__":
    main()
