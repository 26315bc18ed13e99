# The Terraform of "Building a Serverless REST API with API Gateway, Lambda, and DynamoDB"
# (Naveen Teja, 2026-03-02), the article this project grew from, copied as printed: a test
# fixture for reading a stack that was not written for loadgen. It has no routes, no stage, no
# IAM role declared, a nodejs20.x runtime and the integration's default payload format (1.0).

resource "aws_dynamodb_table" "items" {
  name           = "api-items"
  billing_mode   = "PAY_PER_REQUEST"
  hash_key       = "PK"
  range_key      = "SK"

  attribute {
    name = "PK"
    type = "S"
  }
  attribute {
    name = "SK"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }
}

resource "aws_lambda_function" "api_handler" {
  filename      = "function.zip"
  function_name = "api-items-handler"
  role          = aws_iam_role.lambda_exec.arn
  handler       = "index.handler"
  runtime       = "nodejs20.x"

  reserved_concurrent_executions = 100

  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.items.name
    }
  }
}

resource "aws_apigatewayv2_api" "http_api" {
  name          = "items-api"
  protocol_type = "HTTP"

  cors_configuration {
    allow_origins = ["https://www.naveenteja.cloud"]
    allow_methods = ["GET", "POST", "DELETE"]
    allow_headers = ["Content-Type", "Authorization"]
  }
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id             = aws_apigatewayv2_api.http_api.id
  integration_type   = "AWS_PROXY"
  integration_uri    = aws_lambda_function.api_handler.invoke_arn
}
