"""An orders API: the kind of Python Lambda function loadgen's users ship, behind an API Gateway
HTTP API (payload format 2.0) and in front of a DynamoDB table with a global secondary index.

  POST /orders                   create an order from {"customerId": ..., "total": ...} -> 201
  GET  /orders/{orderId}         read one order (GetItem)                                -> 200 / 404
  GET  /customers/{id}/orders    a customer's orders, newest first (Query on by-customer) -> 200

Configuration comes from the environment, as on Lambda: TABLE_NAME, and the AWS SDK's own
variables (region, credentials, AWS_ENDPOINT_URL_DYNAMODB when a local stack serves the table).
"""
import base64
import json
import os
import time
import uuid
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Key

# Created once per execution environment, during INIT: every warm invocation reuses them.
TABLE = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def respond(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body, default=lambda d: float(d) if isinstance(d, Decimal) else str(d)),
    }


def body_of(event):
    # API Gateway base64-encodes a body whose content type is not text (or is missing).
    body = event.get("body") or ""
    return base64.b64decode(body) if event.get("isBase64Encoded") else body


def create(event):
    try:
        order = json.loads(body_of(event) or "{}")
    except ValueError:
        return respond(400, {"error": "bad-request", "message": "the body is not JSON"})
    if not isinstance(order, dict) or not isinstance(order.get("customerId"), str):
        return respond(400, {"error": "bad-request", "message": "customerId (a string) is required"})
    item = {
        "orderId": order.get("orderId") or uuid.uuid4().hex,
        "customerId": order["customerId"],
        "total": Decimal(str(order.get("total", 0))),
        "createdAt": int(time.time() * 1000),
    }
    TABLE.put_item(Item=item)
    return respond(201, item)


def read(order_id):
    item = TABLE.get_item(Key={"orderId": order_id}).get("Item")
    return respond(200, item) if item else respond(404, {"error": "not-found", "message": order_id})


def by_customer(customer_id):
    out = TABLE.query(
        IndexName="by-customer",
        KeyConditionExpression=Key("customerId").eq(customer_id),
        ScanIndexForward=False,
        Limit=20,
    )
    return respond(200, {"orders": out["Items"]})


def lambda_handler(event, context):
    route = event.get("routeKey")
    params = event.get("pathParameters") or {}
    if route == "POST /orders":
        return create(event)
    if route == "GET /orders/{orderId}":
        return read(params["orderId"])
    if route == "GET /customers/{customerId}/orders":
        return by_customer(params["customerId"])
    return respond(404, {"error": "not-found", "message": route})
