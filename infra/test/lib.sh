# Sourced by infra/test/run.sh and infra/fleet/test/run.sh: what proving a module on loopback
# takes — a scratch directory, Terraform installing from the local provider mirror, dummy AWS
# credentials, a moto server — and the check helpers. Set `what` (the name in messages) first.
# Needs: terraform, the hashicorp/aws provider in a filesystem mirror (TF_PLUGIN_MIRROR,
# default /opt/tf-plugins), python3 with moto[server], the aws CLI and jq.

mirror="${TF_PLUGIN_MIRROR:-/opt/tf-plugins}"
work="$(mktemp -d)"
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "$what test: $*" >&2; exit 1; }
check() { # check <description> <actual> <expected>
  if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; fi
  echo "  ok  $1"
}

[ -d "$mirror/registry.terraform.io/hashicorp/aws" ] || fail "no hashicorp/aws provider under $mirror (set TF_PLUGIN_MIRROR)"
cat > "$work/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=""

# stage <module dir> <scratch name>: the module's .tf files in a scratch directory with the
# test-only provider overrides beside them, so the module itself carries none.
stage() {
  mkdir "$work/$2"
  cp "$1"/*.tf "$work/$2/"
  cp "$(dirname "${BASH_SOURCE[0]}")/providers_override.tf" "$(dirname "${BASH_SOURCE[0]}")/endpoint.tf" "$work/$2/"
}

# dummy_zip <path>: a deployment package moto accepts (it never runs the code).
dummy_zip() {
  python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],'w'); z.writestr('bootstrap','#!/bin/sh\n')" "$1"
}

# start_moto: a moto server on a free loopback port; sets `endpoint`.
start_moto() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  endpoint="http://127.0.0.1:$port"
  moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
  moto_pid=$!
  for _ in $(seq 100); do curl -sf "$endpoint/moto-api/" >/dev/null && break; sleep 0.1; done
  curl -sf "$endpoint/moto-api/" >/dev/null || fail "moto did not start: $(tail -5 "$work/moto.log")"
}

aws_() { aws --endpoint-url "$endpoint" --output json "$@"; }

# init_validate: terraform init from the mirror and validate, in the current directory.
init_validate() {
  echo "== terraform init (local mirror) and validate"
  terraform init -input=false -no-color > "$work/init.log" || { cat "$work/init.log"; fail "init"; }
  terraform validate -no-color
}

# no_drift_then_destroy <vars…>: a re-plan changes nothing, then everything is destroyed.
no_drift_then_destroy() {
  echo "== terraform plan shows no drift"
  set +e
  terraform plan -input=false -no-color -detailed-exitcode "$@" > "$work/plan.log"
  local code=$?
  set -e
  [ "$code" -eq 0 ] || { tail -30 "$work/plan.log"; fail "plan after apply is not empty (exit $code)"; }
  echo "  ok  no changes"
  echo "== terraform destroy"
  terraform destroy -input=false -auto-approve -no-color "$@" > "$work/destroy.log" || { tail -30 "$work/destroy.log"; fail "destroy"; }
  tail -1 "$work/destroy.log"
}
