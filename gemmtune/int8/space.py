class Int8SearchSpace: pass
