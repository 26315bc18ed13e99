variable "region" {
  description = "AWS Region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name (table, function, role, API)."
  type        = string
  default     = "loadlab"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "lambda_zip" {
  description = "The target-api deployment package built by scripts/build-lambda.sh."
  type        = string
  default     = "../dist/lambda/target-api.zip"
}

variable "architecture" {
  description = "Lambda architecture. x86_64 is what scripts/build-lambda.sh builds and CI checks; arm64 (Graviton) prices duration about 20% lower but needs an aarch64 build."
  type        = string
  default     = "x86_64"
  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Lambda memory size, MB (CPU scales with it)."
  type        = number
  default     = 256
  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be 128 to 10240."
  }
}

variable "timeout_s" {
  description = "Lambda timeout, seconds. API Gateway gives up at 30 s regardless."
  type        = number
  default     = 10
  validation {
    condition     = var.timeout_s >= 1 && var.timeout_s <= 900
    error_message = "timeout_s must be 1 to 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrency: the most concurrent executions, and a guaranteed share of the account's. Needs an account concurrency limit of at least this + 100."
  type        = number
  default     = 100
  validation {
    condition     = var.reserved_concurrency >= 0
    error_message = "reserved_concurrency must be >= 0 (0 throttles every request)."
  }
}

variable "throttling_rate_limit" {
  description = "API stage steady-state rate limit, requests per second. Always set together with the burst: 0/0 blocks every request."
  type        = number
  default     = 1000
  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "throttling_rate_limit must be > 0; 0 makes API Gateway answer every request with 429."
  }
}

variable "throttling_burst_limit" {
  description = "API stage burst (token bucket size)."
  type        = number
  default     = 500
  validation {
    condition     = var.throttling_burst_limit > 0
    error_message = "throttling_burst_limit must be > 0; 0 makes API Gateway answer every request with 429."
  }
}

variable "cors_allow_origins" {
  description = "Origins allowed by CORS; empty leaves CORS off."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Retention of the function and API access logs, days."
  type        = number
  default     = 14
}

variable "deletion_protection" {
  description = "Protect the table from deletion (turn on for anything but experiments)."
  type        = bool
  default     = false
}
