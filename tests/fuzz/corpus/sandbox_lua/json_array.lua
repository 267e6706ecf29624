return json.array(), {}, json.array({1, 2})
