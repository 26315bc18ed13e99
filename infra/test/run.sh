#!/usr/bin/env bash
# Proves infra/ on loopback: fmt, init from the local provider mirror, validate, then apply and
# destroy against a moto server (the AWS control plane, emulated) and check what was created
# with the aws CLI. The user-facing module is copied to a scratch directory together with the
# test-only providers_override.tf, so the module itself carries no endpoint overrides.
#
# Needs: terraform, the hashicorp/aws provider in a filesystem mirror (TF_PLUGIN_MIRROR,
# default /opt/tf-plugins), python3 with moto[server], the aws CLI and jq.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
infra="$(dirname "$here")"
root="$(dirname "$infra")"
what="infra"
# shellcheck source=lib.sh
source "$here/lib.sh"

echo "== terraform fmt -check"
terraform fmt -check -recursive -diff "$infra"

stage "$infra" infra
zip="$root/dist/lambda/target-api.zip"
if [ ! -f "$zip" ]; then
  # The real artifact is built by scripts/build-lambda.sh; moto never runs it anyway.
  zip="$work/dummy.zip"
  dummy_zip "$zip"
fi

start_moto

cd "$work/infra"
init_validate

vars=(-var "endpoint=$endpoint" -var "lambda_zip=$zip" -var 'cors_allow_origins=["https://app.example"]')
echo "== terraform apply against moto"
terraform apply -input=false -auto-approve -no-color "${vars[@]}" > "$work/apply.log" || { tail -40 "$work/apply.log"; fail "apply"; }
tail -1 "$work/apply.log"
out=$(terraform output -json)
table=$(jq -r .table_name.value <<<"$out")
fn=$(jq -r .function_name.value <<<"$out")
api=$(jq -r .api_id.value <<<"$out")
for k in api_url api_id stage function_name table_name region memory_mb timeout_s architecture reserved_concurrency \
  routes throttling_rate_limit throttling_burst_limit table_billing_mode; do
  [ "$(jq -r ".$k.value" <<<"$out")" != "null" ] || fail "output $k missing"
done

echo "== checks"
t=$(aws_ dynamodb describe-table --table-name "$table")
check "table keys" "$(jq -c '[.Table.KeySchema[] | [.AttributeName, .KeyType]]' <<<"$t")" '[["PK","HASH"],["SK","RANGE"]]'
check "table billing" "$(jq -r .Table.BillingModeSummary.BillingMode <<<"$t")" "PAY_PER_REQUEST"
check "table encryption" "$(jq -r .Table.SSEDescription.Status <<<"$t")" "ENABLED"
check "table PITR" "$(aws_ dynamodb describe-continuous-backups --table-name "$table" | jq -r .ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus)" "ENABLED"

c=$(aws_ lambda get-function-configuration --function-name "$fn")
check "function runtime" "$(jq -r .Runtime <<<"$c")" "provided.al2023"
check "function handler" "$(jq -r .Handler <<<"$c")" "bootstrap"
check "function architecture" "$(jq -c .Architectures <<<"$c")" '["x86_64"]'
check "function memory" "$(jq -r .MemorySize <<<"$c")" "256"
check "function timeout" "$(jq -r .Timeout <<<"$c")" "10"
check "function environment" "$(jq -c .Environment.Variables <<<"$c")" "{\"TABLE_NAME\":\"$table\"}"
check "reserved concurrency" "$(aws_ lambda get-function-concurrency --function-name "$fn" | jq -r .ReservedConcurrentExecutions)" "100"

role=$(jq -r '.Role | split("/") | last' <<<"$c")
policy=$(aws_ iam get-role-policy --role-name "$role" --policy-name "$role" | jq '.PolicyDocument | if type == "string" then fromjson else . end')
check "policy table actions" "$(jq -c '[.Statement[] | select(.Sid == "ItemsTable") | .Action] | flatten | sort' <<<"$policy")" '["dynamodb:BatchGetItem","dynamodb:DeleteItem","dynamodb:GetItem","dynamodb:PutItem"]'
table_arn=$(jq -r .Table.TableArn <<<"$t")
check "policy table resource" "$(jq -r '[.Statement[] | select(.Sid == "ItemsTable") | .Resource] | flatten | join(",")' <<<"$policy")" "$table_arn"
check "policy log actions" "$(jq -c '[.Statement[] | select(.Sid == "OwnLogGroup") | .Action] | flatten | sort' <<<"$policy")" '["logs:CreateLogStream","logs:PutLogEvents"]'
check "policy statements" "$(jq '.Statement | length' <<<"$policy")" "2"
check "policy resources are not wildcards" "$(jq '[.Statement[] | .Resource] | flatten | map(select(. == "*")) | length' <<<"$policy")" "0"

check "routes" "$(aws_ apigatewayv2 get-routes --api-id "$api" | jq -c '[.Items[].RouteKey] | sort')" '["DELETE /items/{id}","GET /health","GET /items","GET /items/{id}","POST /items"]'
check "routes output (loadgen simulate's)" "$(jq -c '.routes.value | sort' <<<"$out")" "$(aws_ apigatewayv2 get-routes --api-id "$api" | jq -c '[.Items[].RouteKey] | sort')"
check "billing mode output" "$(jq -r .table_billing_mode.value <<<"$out")" "PAY_PER_REQUEST"
integ=$(aws_ apigatewayv2 get-integrations --api-id "$api")
check "integration type" "$(jq -r '.Items[0].IntegrationType' <<<"$integ")" "AWS_PROXY"
check "payload format" "$(jq -r '.Items[0].PayloadFormatVersion' <<<"$integ")" "2.0"
stage=$(aws_ apigatewayv2 get-stages --api-id "$api" | jq '.Items[0]')
check "stage" "$(jq -r .StageName <<<"$stage")" '$default'
check "stage auto-deploy" "$(jq -r .AutoDeploy <<<"$stage")" "true"
check "stage throttling rate" "$(jq -r '.DefaultRouteSettings.ThrottlingRateLimit | floor' <<<"$stage")" "1000"
check "stage throttling burst" "$(jq -r .DefaultRouteSettings.ThrottlingBurstLimit <<<"$stage")" "500"
check "stage access log" "$([ "$(jq -r .AccessLogSettings.DestinationArn <<<"$stage")" != null ] && echo set)" "set"
check "access log has integration status" "$(jq -r .AccessLogSettings.Format <<<"$stage" | jq -r .integrationStatus)" '$context.integrationStatus'
cors=$(aws_ apigatewayv2 get-api --api-id "$api" | jq -c .CorsConfiguration.AllowOrigins)
check "CORS origins" "$cors" '["https://app.example"]'
check "invoke permission scoped to the API" "$(aws_ lambda get-policy --function-name "$fn" | jq -r '.Policy | fromjson | .Statement[0].Condition.ArnLike["AWS:SourceArn"] | endswith("/*/*")')" "true"

no_drift_then_destroy "${vars[@]}"
echo "infra test: passed"
