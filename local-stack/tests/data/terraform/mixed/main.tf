# A stack that uses what real Terraform uses — for_each, count, dynamic blocks, tfvars, locals
# that name resources, a named stage — next to resources the local stack does not emulate.
# A test fixture: local-stack/tests/terraform.rs reads it.

variable "prefix" {
  type = string
}

variable "workers" {
  type    = map(number)
  default = { "checkout" = 512, "search" = 1024 }
}

variable "enable_cors" {
  type    = bool
  default = true
}

locals {
  table_name = "${var.prefix}-carts"
  routes = {
    checkout = ["POST /checkout", "GET /checkout/{id}"]
    search   = ["GET /search"]
  }
  route_pairs = flatten([for fn, keys in local.routes : [for k in keys : { fn = fn, key = k }]])
}

provider "aws" {
  region = "eu-west-1"
}

resource "aws_dynamodb_table" "carts" {
  name           = local.table_name
  billing_mode   = "PROVISIONED"
  read_capacity  = 50
  write_capacity = 20
  hash_key       = "cartId"
  range_key      = "line"

  attribute {
    name = "cartId"
    type = "S"
  }
  attribute {
    name = "line"
    type = "N"
  }
  attribute {
    name = "customer"
    type = "S"
  }
  attribute {
    name = "updated"
    type = "N"
  }

  global_secondary_index {
    name            = "by-customer"
    hash_key        = "customer"
    range_key       = "updated"
    projection_type = "INCLUDE"
    non_key_attributes = ["total"]
    read_capacity   = 10
    write_capacity  = 5
  }

  local_secondary_index {
    name            = "by-updated"
    range_key       = "updated"
    projection_type = "KEYS_ONLY"
  }
}

resource "aws_lambda_function" "worker" {
  for_each      = var.workers
  function_name = "${var.prefix}-${each.key}"
  filename      = "build/${each.key}.zip"
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  memory_size   = each.value
  architectures = ["arm64"]
  role          = aws_iam_role.fn.arn

  environment {
    variables = {
      TABLE_NAME = aws_dynamodb_table.carts.name
      MODE       = upper(each.key)
      API_KEY    = data.aws_ssm_parameter.api_key.value
    }
  }
}

data "aws_ssm_parameter" "api_key" {
  name = "/shop/api-key"
}

resource "aws_s3_bucket" "broken" {
  count  = -1
  bucket = "never"
}

resource "aws_lambda_provisioned_concurrency_config" "checkout" {
  function_name                     = aws_lambda_function.worker["checkout"].function_name
  qualifier                         = "live"
  provisioned_concurrent_executions = 2
}

resource "aws_iam_role" "fn" {
  name               = "${var.prefix}-fn"
  assume_role_policy = "{}"
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.prefix}-api"
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = var.enable_cors ? [1] : []
    content {
      allow_origins = ["https://shop.example"]
      allow_methods = ["GET", "POST"]
    }
  }
}

resource "aws_apigatewayv2_api" "ws" {
  name                       = "${var.prefix}-ws"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_integration" "fn" {
  for_each               = aws_lambda_function.worker
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = each.key == "search" ? 5000 : 29000
}

resource "aws_apigatewayv2_integration" "legacy" {
  api_id             = aws_apigatewayv2_api.http.id
  integration_type   = "HTTP_PROXY"
  integration_method = "ANY"
  integration_uri    = "https://legacy.example/{proxy}"
}

resource "aws_apigatewayv2_route" "fn" {
  for_each           = { for p in local.route_pairs : p.key => p.fn }
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.fn[each.value].id}"
  authorization_type = each.key == "POST /checkout" ? "JWT" : (each.key == "GET /search" ? "AWS_IAM" : "NONE")
}

resource "aws_apigatewayv2_route" "legacy" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "ANY /legacy/{proxy+}"
  target    = "integrations/${aws_apigatewayv2_integration.legacy.id}"
}

resource "aws_apigatewayv2_stage" "prod" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "prod"
  auto_deploy = true

  default_route_settings {
    throttling_rate_limit  = 200
    throttling_burst_limit = 100
  }

  route_settings {
    route_key              = "GET /search"
    throttling_rate_limit  = 20
    throttling_burst_limit = 10
  }

  stage_variables = {
    flavour = "prod"
  }
}

resource "aws_sqs_queue" "events" {
  name = "${var.prefix}-events"
}

resource "aws_s3_bucket" "assets" {
  count  = 2
  bucket = "${var.prefix}-assets-${count.index}"
}

module "dashboards" {
  source = "./dashboards"
}
