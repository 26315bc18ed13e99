# An orders API as its team would deploy it: an HTTP API with three routes in front of a Python
# Lambda function that reads and writes a DynamoDB table with a global secondary index.
# `loadgen run examples/orders/load.toml` runs this stack on the local stack (no AWS account);
# `terraform apply` here deploys it to AWS, and `loadgen run … --infra examples/orders` loads
# the deployed one.

terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

variable "region" {
  description = "AWS Region."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "orders"
}

variable "reserved_concurrency" {
  description = "The function's reserved concurrency: the most environments it may have."
  type        = number
  default     = 10
}

provider "aws" {
  region = var.region
}

resource "aws_dynamodb_table" "orders" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "orderId"

  attribute {
    name = "orderId"
    type = "S"
  }
  attribute {
    name = "customerId"
    type = "S"
  }
  attribute {
    name = "createdAt"
    type = "N"
  }

  global_secondary_index {
    name            = "by-customer"
    hash_key        = "customerId"
    range_key       = "createdAt"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }
}

data "archive_file" "handler" {
  type        = "zip"
  source_dir  = "${path.module}/handler"
  output_path = "${path.module}/build/handler.zip"
}

resource "aws_iam_role" "handler" {
  name = "${var.name}-handler"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_iam_role_policy" "handler" {
  name = "table-and-logs"
  role = aws_iam_role.handler.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
        Resource = [aws_dynamodb_table.orders.arn, "${aws_dynamodb_table.orders.arn}/index/by-customer"]
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${aws_cloudwatch_log_group.handler.arn}:*"
      },
    ]
  })
}

resource "aws_cloudwatch_log_group" "handler" {
  name              = "/aws/lambda/${var.name}-handler"
  retention_in_days = 14
}

resource "aws_lambda_function" "handler" {
  function_name                  = "${var.name}-handler"
  role                           = aws_iam_role.handler.arn
  filename                       = data.archive_file.handler.output_path
  source_code_hash               = data.archive_file.handler.output_base64sha256
  runtime                        = "python3.12"
  handler                        = "app.lambda_handler"
  memory_size                    = 256
  timeout                        = 10
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.orders.name
    }
  }

  depends_on = [aws_iam_role_policy.handler, aws_cloudwatch_log_group.handler]
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.name}-api"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "handler" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.handler.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 10000
}

resource "aws_apigatewayv2_route" "handler" {
  for_each  = toset(["POST /orders", "GET /orders/{orderId}", "GET /customers/{customerId}/orders"])
  api_id    = aws_apigatewayv2_api.http.id
  route_key = each.value
  target    = "integrations/${aws_apigatewayv2_integration.handler.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = 500
    throttling_burst_limit = 200
  }
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.handler.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

output "api_url" {
  value = aws_apigatewayv2_stage.default.invoke_url
}

output "api_id" {
  value = aws_apigatewayv2_api.http.id
}

output "stage" {
  value = aws_apigatewayv2_stage.default.name
}

output "function_name" {
  value = aws_lambda_function.handler.function_name
}

output "table_name" {
  value = aws_dynamodb_table.orders.name
}

output "region" {
  value = var.region
}

output "memory_mb" {
  value = aws_lambda_function.handler.memory_size
}

output "reserved_concurrency" {
  value = var.reserved_concurrency
}
