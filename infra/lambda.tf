resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.name}-api"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:Log data of a load-test function is not sensitive; the AWS-managed encryption of CloudWatch Logs applies.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 14 days) so experiments do not keep logs for a year.
}

resource "aws_lambda_function" "api" {
  function_name                  = "${var.name}-api"
  role                           = aws_iam_role.function.arn
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.items.name
    }
  }

  #checkov:skip=CKV_AWS_116:Synchronous API invocations get errors back directly; a DLQ only applies to async invokes.
  #checkov:skip=CKV_AWS_117:The function reaches only DynamoDB over its public endpoint; a VPC would add NAT or endpoint cost and cold-start time to what is being measured.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile outside this stack; the artifact is built and checked in CI.
  #checkov:skip=CKV_AWS_173:The only variable is the table name, which is not secret.
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds per-request cost and latency to the numbers being measured; turn it on when debugging.

  depends_on = [aws_iam_role_policy.function, aws_cloudwatch_log_group.function]
}
