output "api_url" {
  description = "Base URL of the API: loadgen run <scenario> --target <api_url>."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_id" {
  description = "HTTP API id (the ApiId dimension of its CloudWatch metrics)."
  value       = aws_apigatewayv2_api.http.id
}

output "stage" {
  description = "Stage name (the Stage dimension)."
  value       = aws_apigatewayv2_stage.default.name
}

output "function_name" {
  description = "Lambda function name (the FunctionName dimension)."
  value       = aws_lambda_function.api.function_name
}

output "table_name" {
  description = "DynamoDB table name (the TableName dimension)."
  value       = aws_dynamodb_table.items.name
}

output "region" {
  description = "Region of the stack."
  value       = data.aws_region.current.name
}

output "memory_mb" {
  description = "Lambda memory, MB (the cost model prices GB-seconds with it)."
  value       = aws_lambda_function.api.memory_size
}

output "timeout_s" {
  description = "Lambda timeout, s (loadgen's worst-case cost guard uses it)."
  value       = aws_lambda_function.api.timeout
}

output "architecture" {
  description = "Lambda architecture (x86_64 or arm64; priced differently)."
  value       = var.architecture
}

output "reserved_concurrency" {
  description = "Reserved concurrency (the knee analysis's number of servers)."
  value       = var.reserved_concurrency
}

output "routes" {
  description = "The HTTP API's route keys (loadgen simulate maps each request to its route)."
  value       = local.routes
}

output "throttling_rate_limit" {
  description = "The stage's default route throttle, requests per second (simulated by loadgen simulate)."
  value       = var.throttling_rate_limit
}

output "throttling_burst_limit" {
  description = "The stage's default route burst."
  value       = var.throttling_burst_limit
}

output "table_billing_mode" {
  description = "The table's capacity mode (PAY_PER_REQUEST: on demand)."
  value       = aws_dynamodb_table.items.billing_mode
}
