#!/usr/bin/env bash
# AWS SAM for the deployed stack (template.yaml, samconfig.toml).
#   bash scripts/sam.sh lint    cfn-lint and `sam validate --lint` on template.yaml; any finding fails
#   bash scripts/sam.sh build   `sam build` of every function for x86_64 (the only target here);
#                               extra arguments go to `sam build`
#   bash scripts/sam.sh -- ARGS runs `sam ARGS` with the project's tools (e.g. `-- deploy --guided`)
# SAM CLI and cfn-lint live in their own venv, .tools/sam-venv, apart from cargo-lambda's.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

AWS_SAM_CLI_VERSION=1.170.0
CFN_LINT_VERSION=1.58.0 # within the range aws-sam-cli pins, so `sam validate --lint` uses it too
SAM_VENV="$TOOLS/sam-venv"

# No telemetry from SAM CLI; the region only names the partition to lint against (no AWS calls).
export SAM_CLI_TELEMETRY=0
export AWS_REGION="${AWS_REGION:-us-east-1}"

install_sam() {
  install_venv "$SAM_VENV" "aws-sam-cli==$AWS_SAM_CLI_VERSION" "cfn-lint==$CFN_LINT_VERSION"
}

# SAM CLI is run by path, not put on PATH: `sam build` finds cargo and cargo-lambda on PATH, and
# cargo-lambda links through `python3 -m ziglang` from .tools/venv (where ziglang is installed
# with cargo-lambda), so that venv's python3 must stay first.
sam() { "$SAM_VENV/bin/sam" "$@"; }

# SAM writes its build output to .aws-sam/; keep it out of git without touching .gitignore.
ignore_build_dir() {
  mkdir -p "$ROOT/.aws-sam"
  [ -f "$ROOT/.aws-sam/.gitignore" ] || echo '*' > "$ROOT/.aws-sam/.gitignore"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  lint)
    install_sam
    log "cfn-lint $CFN_LINT_VERSION template.yaml"
    "$SAM_VENV/bin/cfn-lint" --regions "$AWS_REGION" --include-checks I -- template.yaml
    log "sam validate --lint"
    sam validate --lint --region "$AWS_REGION" --template-file template.yaml
    ;;
  build)
    install_tools
    install_sam
    ignore_build_dir
    log "sam build (x86_64)"
    sam build --region "$AWS_REGION" --parameter-overrides Architecture=x86_64 "$@"
    ignore_build_dir
    ;;
  --)
    install_tools
    install_sam
    ignore_build_dir
    sam "$@"
    ;;
  *)
    echo "usage: bash scripts/sam.sh lint | build [SAM BUILD ARGS] | -- SAM ARGS" >&2
    exit 2
    ;;
esac
