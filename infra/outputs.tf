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
