-- Put a consumer's pending entries back on the stream as new entries (new attempt tokens);
-- each task run's 'rc' counts these redos (an attempt lost with its worker).
-- KEYS[1] queue stream; ARGV: group, consumer, max count, flow-run key root ('{ns}:f:')
local stream, group, consumer, count, root = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local pending = redis.call('XPENDING', stream, group, '-', '+', count, consumer)
for _, p in ipairs(pending) do
  local id = p[1]
  local found = redis.call('XRANGE', stream, id, id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  if #found > 0 then
    local fields = found[1][2]
    local values = {}
    for i = 1, #fields, 2 do
      values[fields[i]] = fields[i + 1]
    end
    local task = root .. values['f'] .. ':t:' .. values['t']
    if redis.call('HGET', task, 'e') == id then
      local new = redis.call('XADD', stream, '*', unpack(fields))
      redis.call('HSET', task, 'e', new)
      redis.call('HINCRBY', task, 'rc', 1)
    end
  end
end
if #pending < count then
  redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
end
return #pending
