return get_current_time().unix_ms > 0, get_node_info().node
