prefix = "shop"
