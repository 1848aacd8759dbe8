"""The Lua scripts the Redis store runs: each one atomic, each one round trip.

Every key a script touches may hold anything: left by hand, by another
program, or half-deleted by Redis's own eviction. A script never fails on
that: what it cannot read as a sequence it treats as no sequence at all, and
starts afresh.
"""

# KEYS: the hash, the attempts, the index.
# ARGV: the key, the list asked for, the TTL in seconds, the history length,
# the bound on sequences, the prefix, the method, then what each entry sends.
# Returns {count, bound list}; count 0 means the key is bound to another list.
TAKE = """
local function kind(key) return redis.call('TYPE', key).ok end
local index_kind = kind(KEYS[3])
if index_kind ~= 'zset' and index_kind ~= 'none' then
  redis.call('DEL', KEYS[3])
end
local bound = false
if kind(KEYS[1]) == 'hash' then
  local fields = redis.call('HMGET', KEYS[1], 'list', 'count')
  if fields[1] and fields[2] and string.match(fields[2], '^%d+$') then
    bound = fields[1]
  end
end
if bound and bound ~= ARGV[2] then
  return {0, bound}
end
if not bound then
  -- Nothing usable under the key, and a history left without its sequence
  -- is not this one's: a fresh sequence.
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'list', ARGV[2], 'count', 0)
else
  local attempts_kind = kind(KEYS[2])
  if attempts_kind ~= 'list' and attempts_kind ~= 'none' then
    redis.call('DEL', KEYS[2])
  end
end
local count = redis.call('HINCRBY', KEYS[1], 'count', 1)
local now = redis.call('TIME')
local ms = now[1] * 1000 + math.floor(now[2] / 1000)
local sent = ARGV[7 + math.min(count, #ARGV - 7)]
redis.call('RPUSH', KEYS[2], ms .. ' ' .. ARGV[7] .. ' ' .. sent)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
-- Scored in microseconds, each use above the last one, so that uses within
-- one tick still list in order (2^53 us is centuries away).
local us = now[1] * 1000000 + now[2]
local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
if last and tonumber(last) >= us then
  us = tonumber(last) + 1
end
redis.call('ZADD', KEYS[3], us, ARGV[1])
local idle = string.format('%.0f', us - tonumber(ARGV[3]) * 1000000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. idle)
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if excess > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[3], 0, excess - 1)) do
    local hash = ARGV[6] .. ':seq:{' .. old .. '}'
    redis.call('DEL', hash, hash .. ':attempts')
  end
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, excess - 1)
end
return {count, ARGV[2]}
"""

# KEYS: the index. ARGV: the prefix. Forgets every sequence; returns how many.
FORGET_ALL = """
if redis.call('TYPE', KEYS[1]).ok ~= 'zset' then
  redis.call('DEL', KEYS[1])
  return 0
end
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, key in ipairs(keys) do
  local hash = ARGV[1] .. ':seq:{' .. key .. '}'
  redis.call('DEL', hash, hash .. ':attempts')
end
redis.call('DEL', KEYS[1])
return #keys
"""
