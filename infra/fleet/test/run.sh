#!/usr/bin/env bash
# Proves infra/fleet/ on loopback as infra/test/run.sh proves infra/: fmt, init from the local
# provider mirror, validate, then apply and destroy against a moto server and check with the aws
# CLI that the worker is what loadgen invokes and may do nothing but write its own log.
# What it needs: infra/test/lib.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fleet="$(dirname "$here")"
root="$(dirname "$(dirname "$fleet")")"
what="infra/fleet"
# shellcheck source=../../test/lib.sh
source "$root/infra/test/lib.sh"

echo "== terraform fmt -check"
terraform fmt -check -recursive -diff "$fleet"

stage "$fleet" fleet
zip="$root/dist/lambda/loadgen-worker.zip"
if [ ! -f "$zip" ]; then
  # The real artifact is built by scripts/build-lambda.sh; moto never runs it anyway.
  zip="$work/dummy.zip"
  dummy_zip "$zip"
fi

start_moto

cd "$work/fleet"
init_validate

vars=(-var "endpoint=$endpoint" -var "worker_zip=$zip" -var "reserved_concurrency=20")
echo "== terraform apply against moto"
terraform apply -input=false -auto-approve -no-color "${vars[@]}" > "$work/apply.log" || { tail -40 "$work/apply.log"; fail "apply"; }
tail -1 "$work/apply.log"
out=$(terraform output -json)
for k in fleet_function fleet_function_arn region memory_mb timeout_s reserved_concurrency; do
  [ "$(jq -r ".$k.value" <<<"$out")" != "null" ] || fail "output $k missing"
done
fn=$(jq -r .fleet_function.value <<<"$out")

echo "== checks"
check "function name (what --fleet-function defaults to)" "$fn" "loadgen-worker"
c=$(aws_ lambda get-function-configuration --function-name "$fn")
check "function runtime" "$(jq -r .Runtime <<<"$c")" "provided.al2023"
check "function handler" "$(jq -r .Handler <<<"$c")" "bootstrap"
check "function memory" "$(jq -r .MemorySize <<<"$c")" "2048"
check "function timeout" "$(jq -r .Timeout <<<"$c")" "900"
check "no environment" "$(jq -c '.Environment.Variables // {}' <<<"$c")" "{}"
check "reserved concurrency" "$(aws_ lambda get-function-concurrency --function-name "$fn" | jq -r .ReservedConcurrentExecutions)" "20"

role=$(jq -r '.Role | split("/") | last' <<<"$c")
policy=$(aws_ iam get-role-policy --role-name "$role" --policy-name "$role" | jq '.PolicyDocument | if type == "string" then fromjson else . end')
check "one statement" "$(jq '.Statement | length' <<<"$policy")" "1"
check "only its own log" "$(jq -c '[.Statement[] | .Action] | flatten | sort' <<<"$policy")" '["logs:CreateLogStream","logs:PutLogEvents"]'
check "log resource is its own group" "$(jq -r '.Statement[0].Resource' <<<"$policy")" "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/$fn:*"
check "no managed policy attached" "$(aws_ iam list-attached-role-policies --role-name "$role" | jq '.AttachedPolicies | length')" "0"

# The AWS coordinator path, with the real SDK against moto: the worker's timeout and
# reservation read before anything is sent, then the invokes (moto cannot run the worker's code,
# so every shard comes back a function error: a partial run, never a pass).
loadgen="${LOADGEN:-$root/target/debug/loadgen}"
if [ -x "$loadgen" ]; then
  echo "== loadgen --fleet against the deployed worker (outputs read from $what)"
  cat > "$work/aws-fleet.toml" <<'TOML'
name = "aws-fleet"
[target]
url = "https://api.example.invalid"
[[phase]]
name = "p"
duration = "2s"
rate = 5
[[request]]
name = "r"
path = "/"
TOML
  fleet_run() {
    AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
      AWS_EC2_METADATA_DISABLED=true "$loadgen" run "$work/aws-fleet.toml" --no-cloudwatch --quiet \
      --fleet-function "$work/fleet" --out "$work/$1" "${@:2}" 2> "$work/$1.err"
  }
  rc=0; fleet_run over --fleet 30 || rc=$?
  check "30 workers on 20 reserved: exit" "$rc" "3"
  check "refused before sending" "$(jq -r .status "$work/over/results.json")" "aborted"
  grep -q "20 reserved concurrency" "$work/over/results.json" || fail "the reservation is not named: $(cat "$work/over.err")"
  rc=0; fleet_run lost --fleet 2 || rc=$?
  check "2 workers moto cannot run: exit" "$rc" "3"
  check "status" "$(jq -r .status "$work/lost/results.json")" "partial"
  check "lost workers" "$(jq '.fleet.lost | length' "$work/lost/results.json")" "2"
  check "invoked by ARN" "$(jq -r .fleet.function "$work/lost/results.json")" "arn:aws:lambda:us-east-1:123456789012:function:$fn"
  check "their arrivals counted as lost" "$(jq '[.phases[].lost] | add' "$work/lost/results.json")" "10"
else
  [ -z "${LOADGEN:-}" ] || fail "LOADGEN=$LOADGEN is no executable"
  echo "== no loadgen binary at $loadgen (build it, or set LOADGEN=): the coordinator path was not run" >&2
fi

no_drift_then_destroy "${vars[@]}"
echo "infra/fleet test: passed"
