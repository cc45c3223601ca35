bucket {
  endpoint         = env("R2_ENDPOINT_URL")
  name             = env("R2_BUCKET_NAME")
  list_concurrency = 0 # ERROR: Invalid list_concurrency
}

database {
  url = env("DATABASE_URL")
}

layout {
  placed = ["dev/", "prod/"]

  move "everything" {
    prefix = ""
    target = "dev/"
  }
}

reference "image" {
  table       = "Image"
  primary_key = "id"
  key_column  = "key"
}
