locals {
  # One route per target-api endpoint (local-stack reads the same list).
  routes = ["GET /health", "POST /items", "GET /items", "GET /items/{id}", "DELETE /items/{id}"]
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name}-api"
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = length(var.cors_allow_origins) > 0 ? [1] : []
    content {
      allow_origins  = var.cors_allow_origins
      allow_methods  = ["GET", "POST", "DELETE"]
      allow_headers  = ["content-type", "authorization"]
      expose_headers = ["x-cold-start", "x-init-ms", "x-env-id", "x-ddb-calls", "x-ddb-rcu", "x-ddb-wcu", "x-handler-us"]
      max_age        = 300
    }
  }
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "api" {
  for_each  = toset(local.routes)
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"
  #checkov:skip=CKV_AWS_309:The API under test is public by design; add a JWT authorizer for anything else.
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.name}-api"
  retention_in_days = var.log_retention_days
  #checkov:skip=CKV_AWS_158:Access logs of a load-test API are not sensitive.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 14 days).
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  # Both values, always: leaving them out while setting default_route_settings sends 0/0,
  # which makes API Gateway answer every request with 429.
  default_route_settings {
    throttling_rate_limit  = var.throttling_rate_limit
    throttling_burst_limit = var.throttling_burst_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId               = "$context.requestId"
      routeKey                = "$context.routeKey"
      status                  = "$context.status"
      responseLatency         = "$context.responseLatency"
      integrationLatency      = "$context.integrationLatency"
      integrationStatus       = "$context.integrationStatus"
      integrationLambdaStatus = "$context.integration.integrationStatus"
      functionStatus          = "$context.integration.status"
      integrationError        = "$context.integrationErrorMessage"
      errorType               = "$context.error.responseType"
      errorMessage            = "$context.error.message"
      ip                      = "$context.identity.sourceIp"
      requestTime             = "$context.requestTimeEpoch"
    })
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.api.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
