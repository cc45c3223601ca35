# ERROR: Missing layout block
bucket {
  name = "media"
}

database {
  url = "sqlite:app.db"
}
