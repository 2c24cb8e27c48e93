#!/usr/bin/env python3
"""Runs the code blocks of README.md against a live API (see scripts/readme-check.sh).

Fenced blocks, by their info string:
  sh                  run with bash; every `curl` in it must answer 2xx
  sh status=NNN       run with bash; every `curl` in it must answer NNN
  sh no-exec          not run; each command must be one of NOT_EXECUTED below, which says why
                      (a `make` target among them is dry-run with `make -n`, so it must exist)
  js                  run with node as an ES module (Node's built-in fetch)
  python              run with the Python given by --python (which has `requests`)
  json, text, mermaid, yaml  shown, not commands (yaml: template.yaml fragments)
Anything else (bash, console, ...) is an error, so that no command slips past the check.

The only changes made to a block are the base URLs: http://127.0.0.1:9000 becomes --api, and
the local inbox http://127.0.0.1:8005 becomes --mail.
Consecutive `sh` blocks run in one bash process, so a variable one sets (TOKEN) reaches the next.
Every block must exit 0; the check stops at the first that does not.
"""

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

README_BASE_URL = "http://127.0.0.1:9000"
README_MAIL_URL = "http://127.0.0.1:8005"
RUN_LANGUAGES = {"sh", "js", "python"}
SHOWN_LANGUAGES = {"json", "text", "mermaid", "yaml"}

# The commands that may stand in a `sh no-exec` block, and why this check does not run them.
NOT_EXECUTED = {
    "make run": "this check starts it itself, on free ports (API_PORT, DYNAMODB_PORT)",
    "make test": "it is what runs this check; CI runs it (.ci/run)",
    "make build": "a release build of every function under SAM: many minutes",
    "make bench": "many minutes of measurements, and it rewrites bench/results.md",
    "make soak": "30 minutes of load by default, and it rewrites bench/soak.md",
    "python3 scripts/scale.py": "it rewrites docs/scale.md; make test runs it with --check",
    "bash scripts/sam.sh -- deploy --guided": "needs an AWS account and credentials",
    'aws secretsmanager put-secret-value --secret-id "$SECRET_ARN" --secret-string "$(aws '
    'secretsmanager get-secret-value --secret-id "$SECRET_ARN" --query SecretString --output '
    'text | cargo run --quiet -p keyring -- revoke-all -)"': "the emergency key ring, in a "
    "deployed stack: needs an AWS account and credentials (the tests put the same ring into "
    "moto's Secrets Manager)",
}

BLOCK_TIMEOUT_SECONDS = 600

# Runs before the `sh` blocks: `curl` becomes a function that prints the body as curl would, and
# fails the block when the HTTP status is not the one the block expects.
SH_PRELUDE = r"""
set -euo pipefail
__expect=2xx
__block() { __expect=$2; printf '\n\033[1m--- README.md line %s (sh, expects %s)\033[0m\n' "$1" "$2" >&2; }
curl() {
  local body status
  body=$(mktemp)
  if ! status=$(command curl --silent --show-error --max-time 120 --output "$body" \
      --write-out '%{http_code}' "$@"); then
    rm -f "$body"
    echo "README check: curl failed: curl $*" >&2
    return 1
  fi
  cat "$body"
  rm -f "$body"
  printf '   [HTTP %s]\n' "$status" >&2
  case "$__expect" in
    2xx) [[ $status == 2?? ]] ;;
    *) [[ $status == "$__expect" ]] ;;
  esac || {
    echo "README check: HTTP $status where the README expects $__expect: curl $*" >&2
    return 1
  }
}
"""


@dataclass
class Block:
    line: int
    language: str
    attributes: dict
    text: str


def fail(message):
    print(f"README check: {message}", file=sys.stderr)
    sys.exit(1)


def parse(readme):
    """The fenced blocks of `readme`, with the line their fence opens on."""
    blocks, current, body = [], None, []
    for number, line in enumerate(readme.splitlines(), start=1):
        fence = re.match(r"^```(.*)$", line)
        if current is None:
            if fence:
                words = fence.group(1).split()
                language = words[0] if words else ""
                attributes = {}
                for word in words[1:]:
                    key, _, value = word.partition("=")
                    attributes[key] = value
                current, body = (number, language, attributes), []
        elif fence and not fence.group(1).strip():
            blocks.append(Block(current[0], current[1], current[2], "\n".join(body) + "\n"))
            current = None
        else:
            body.append(line)
    if current is not None:
        fail(f"line {current[0]}: a code block that never closes")
    return blocks


def check_block(block):
    where = f"line {block.line}"
    if block.language in SHOWN_LANGUAGES:
        if block.attributes:
            fail(f"{where}: a `{block.language}` block takes no attributes")
        return
    if block.language not in RUN_LANGUAGES:
        fail(
            f"{where}: code block language `{block.language or '(none)'}`: commands go in "
            f"`sh`, `js` or `python` blocks, which this check runs; other text in "
            f"{', '.join(sorted(SHOWN_LANGUAGES))} blocks"
        )
    allowed = {"no-exec", "status"} if block.language == "sh" else set()
    unknown = set(block.attributes) - allowed
    if unknown:
        fail(f"{where}: unknown attribute(s) {', '.join(sorted(unknown))}")
    status = block.attributes.get("status")
    if status is not None and not re.fullmatch(r"[1-5]\d\d", status):
        fail(f"{where}: status={status} is not an HTTP status")
    if "no-exec" in block.attributes:
        if status is not None:
            fail(f"{where}: a no-exec block expects no status")
        for command in commands(block.text):
            if command not in NOT_EXECUTED:
                fail(
                    f"{where}: `{command}` is in a no-exec block but not in NOT_EXECUTED "
                    f"(scripts/readme_check.py): run it, or say there why it cannot be"
                )


def commands(text):
    """The commands of a shell block: lines without comments and blank lines."""
    for line in text.splitlines():
        command = re.sub(r"\s+#.*$", "", line).strip()
        if command and not command.startswith("#"):
            yield command


def run(argv, what, env=None):
    print(f"\n\033[1m--- {what}\033[0m", file=sys.stderr, flush=True)
    try:
        result = subprocess.run(argv, env=env, timeout=BLOCK_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        fail(f"{what}: still running after {BLOCK_TIMEOUT_SECONDS} s")
    if result.returncode != 0:
        fail(f"{what}: exited {result.returncode}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--api", required=True, help="base URL of the running API")
    parser.add_argument("--mail", required=True, help="base URL of the running SES emulator")
    parser.add_argument("--python", required=True, help="a Python that has `requests`")
    parser.add_argument("--work", required=True, help="a directory for the block files")
    args = parser.parse_args()

    blocks = parse(Path(args.readme).read_text(encoding="utf-8"))
    for block in blocks:
        check_block(block)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ran = {"sh": 0, "js": 0, "python": 0}
    pending_sh = []

    def flush_sh():
        if not pending_sh:
            return
        script = SH_PRELUDE
        for block in pending_sh:
            expect = block.attributes.get("status", "2xx")
            script += f"\n__block {block.line} {expect}\n"
            script += block.text.replace(README_BASE_URL, args.api).replace(README_MAIL_URL, args.mail)
        path = work / f"readme-sh-{pending_sh[0].line}.sh"
        path.write_text(script, encoding="utf-8")
        lines = ", ".join(str(block.line) for block in pending_sh)
        run(["bash", str(path)], f"sh blocks at README.md lines {lines}")
        pending_sh.clear()

    for block in blocks:
        if block.language not in RUN_LANGUAGES or "no-exec" in block.attributes:
            continue
        ran[block.language] += 1
        if block.language == "sh":
            pending_sh.append(block)
            continue
        flush_sh()
        text = block.text.replace(README_BASE_URL, args.api).replace(README_MAIL_URL, args.mail)
        if block.language == "js":
            path = work / f"readme-js-{block.line}.mjs"
            path.write_text(text, encoding="utf-8")
            run(["node", str(path)], f"README.md line {block.line} (js, node)")
        else:
            path = work / f"readme-python-{block.line}.py"
            path.write_text(text, encoding="utf-8")
            run([args.python, str(path)], f"README.md line {block.line} (python)")
    flush_sh()

    for language, count in ran.items():
        if count == 0:
            fail(f"README.md has no `{language}` block to run")
    skipped = sorted({c for b in blocks if "no-exec" in b.attributes for c in commands(b.text)})
    # A make target that is not run must at least exist: `make -n` prints its recipe.
    for command in skipped:
        if command.startswith("make "):
            target = command.split()[1]
            result = subprocess.run(
                ["make", "--no-print-directory", "-n", target], capture_output=True, text=True
            )
            if result.returncode != 0:
                fail(f"`{command}`: `make -n {target}` failed: {result.stderr.strip()}")
    print(
        f"\nREADME check: ran {ran['sh']} sh, {ran['js']} js and {ran['python']} python blocks "
        f"against {args.api}; not executed here:",
        file=sys.stderr,
    )
    for command in skipped:
        print(f"  {command:<40} {NOT_EXECUTED[command]}", file=sys.stderr)


if __name__ == "__main__":
    main()
