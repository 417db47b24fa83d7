package formula

// DefaultAliases are the formula names of columns that every request gets
// unless it sets its own aliases: the original system's formulas were
// written against bar data (close, volume) and run unchanged on trades.
// Declared here, beside the function table, so that docs/functions.md
// lists them; ir.DefaultAliases is this map.
var DefaultAliases = map[string]string{"close": "trade_price", "volume": "trade_size"}
