# A stack behind a JWT authorizer, for loadgen/tests/jwt.rs: target-api (var.code) on GET
# /health and GET /items/{id}, the first guarded by a JWT authorizer trusting var.issuer (a
# loopback issuer the test runs) for audience app-client.
variable "issuer" {
  type = string
}

variable "code" {
  type = string
}

resource "aws_dynamodb_table" "items" {
  name         = "jwt-items"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "PK"
  range_key    = "SK"
  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }
}

resource "aws_lambda_function" "api" {
  function_name = "jwt-api"
  filename      = var.code
  handler       = "bootstrap"
  runtime       = "provided.al2023"
  role          = "arn:aws:iam::123456789012:role/jwt-api"
  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.items.name
    }
  }
}

resource "aws_apigatewayv2_api" "api" {
  name          = "jwt"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "api" {
  api_id                 = aws_apigatewayv2_api.api.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.api.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_authorizer" "users" {
  api_id           = aws_apigatewayv2_api.api.id
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  name             = "users"
  jwt_configuration {
    audience = ["app-client"]
    issuer   = var.issuer
  }
}

resource "aws_apigatewayv2_route" "health" {
  api_id             = aws_apigatewayv2_api.api.id
  route_key          = "GET /health"
  target             = "integrations/${aws_apigatewayv2_integration.api.id}"
  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.users.id
}

resource "aws_apigatewayv2_route" "item" {
  api_id    = aws_apigatewayv2_api.api.id
  route_key = "GET /items/{id}"
  target    = "integrations/${aws_apigatewayv2_integration.api.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.api.id
  name        = "$default"
  auto_deploy = true
  default_route_settings {
    throttling_rate_limit  = 1000
    throttling_burst_limit = 500
  }
}
