locals {
  env = env("NODE_ENV") == "production" ? "prod" : "dev"
}

bucket {
  endpoint          = env("R2_ENDPOINT_URL")
  name              = env("R2_BUCKET_NAME")
  access_key_id     = env("R2_ACCESS_KEY_ID")
  secret_access_key = env("R2_SECRET_ACCESS_KEY")
  public_url        = "https://media.example.com"
}

database {
  url = env("DATABASE_URL")
}

layout {
  placed       = ["dev/", "prod/"]
  grace_period = "168h"

  move "everything" {
    prefix = ""
    target = "${local.env}/"
  }
}


reference "image" {
  table       = "Image"
  primary_key = "id"
  key_column  = "key"
}

ignore {
  columns = ["AuditLog.payload", "just_a_table"] # ERROR: "just_a_table" is not a column
}
