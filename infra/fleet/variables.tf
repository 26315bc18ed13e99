variable "region" {
  description = "Region to generate load from: the target's own, so the load does not cross the internet."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "The worker function's name: what `loadgen run --fleet N --fleet-function NAME` invokes."
  type        = string
  default     = "loadgen-worker"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,60}$", var.name))
    error_message = "name must be 3-61 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "worker_zip" {
  description = "The worker's deployment package, built by scripts/build-lambda.sh."
  type        = string
  default     = "../../dist/lambda/loadgen-worker.zip"
}

variable "architecture" {
  description = "x86_64, or arm64 for a worker built for aarch64."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory of each worker, MB. 2,048 buys more than one vCPU (1,769 MB is one), which keeps a worker's own scheduling lag low; loadgen prices the fleet at this size."
  type        = number
  default     = 2048
  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be 128 to 10240."
  }
}

variable "timeout_s" {
  description = "A worker's timeout, s: loadgen cuts a longer plan into back-to-back segments that each fit it, with its lead, drain and answer. Lambda's limit, 900, by default."
  type        = number
  default     = 900
  validation {
    condition     = var.timeout_s >= 60 && var.timeout_s <= 900
    error_message = "timeout_s must be 60 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Concurrency set aside for the fleet: the most worker invokes a run may hold at once (its workers, or twice them around segment boundaries when a plan is longer than one invoke), taken from the account's quota so the target never takes it. null leaves the workers unreserved (they then share the account's concurrency with the target)."
  type        = number
  default     = null
  validation {
    condition     = var.reserved_concurrency == null || try(var.reserved_concurrency >= 1, false)
    error_message = "reserved_concurrency must be at least 1, or null."
  }
}

variable "log_retention_days" {
  description = "Days the workers' logs are kept."
  type        = number
  default     = 14
}
