output "fleet_function" {
  description = "The worker function: loadgen run <scenario> --fleet N --fleet-function <fleet_function>."
  value       = aws_lambda_function.worker.function_name
}

output "fleet_function_arn" {
  description = "The worker function's ARN (what a policy allowing the coordinator to invoke it names)."
  value       = aws_lambda_function.worker.arn
}

output "region" {
  description = "Region of the fleet."
  value       = data.aws_region.current.name
}

output "memory_mb" {
  description = "Memory of each worker, MB (what the fleet's cost is priced at)."
  value       = aws_lambda_function.worker.memory_size
}

output "timeout_s" {
  description = "A worker's timeout, s."
  value       = aws_lambda_function.worker.timeout
}

output "reserved_concurrency" {
  description = "Concurrency set aside for the fleet (-1: unreserved)."
  value       = aws_lambda_function.worker.reserved_concurrent_executions
}
