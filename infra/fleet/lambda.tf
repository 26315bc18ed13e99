resource "aws_cloudwatch_log_group" "worker" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:A worker's log holds no data of the target's; the AWS-managed encryption of CloudWatch Logs applies.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 14 days) so experiments do not keep logs for a year.
}

resource "aws_lambda_function" "worker" {
  function_name                  = var.name
  role                           = aws_iam_role.worker.arn
  filename                       = var.worker_zip
  source_code_hash               = filebase64sha256(var.worker_zip)
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency

  #checkov:skip=CKV_AWS_116:The coordinator invokes synchronously and reads each answer; a DLQ only applies to async invokes.
  #checkov:skip=CKV_AWS_117:A worker sends load to a public API endpoint; a VPC would put a NAT gateway's cost and limits between it and the target.
  #checkov:skip=CKV_AWS_272:Code signing needs a signing profile outside this stack; the artifact is built and checked in CI.
  #checkov:skip=CKV_AWS_173:The worker has no environment variables.
  #checkov:skip=CKV_AWS_50:X-Ray tracing adds per-request cost and latency to the load being generated.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is a variable: null leaves the fleet unreserved, a number sets it aside.

  depends_on = [aws_iam_role_policy.worker, aws_cloudwatch_log_group.worker]
}
