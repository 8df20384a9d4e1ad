-- Put a consumer's pending entries back on the stream as new entries (new attempt tokens);
-- each task run's 'rc' counts these redos. With a limit (the consumer is a worker that was
-- lost), each run's 'lo' counts its attempts lost with a worker; a run that reaches the limit
-- is not put back: its entry moves, unchanged, to the taker, who records it Crashed (a task
-- that kills whichever worker runs it would otherwise take down every worker in turn).
-- KEYS[1] queue stream; ARGV: group, consumer, max count, flow-run key root ('{ns}:f:'),
-- lost limit ('0': none, a hand-back), taker (the consumer that gets the runs given up)
local stream, group, consumer, count, root = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local limit, taker = tonumber(ARGV[5]), ARGV[6]
local pending = redis.call('XPENDING', stream, group, '-', '+', count, consumer)
local given_up = {}
for _, p in ipairs(pending) do
  local id = p[1]
  local found = redis.call('XRANGE', stream, id, id)
  local fields, task = nil, nil
  if #found > 0 then
    fields = found[1][2]
    local values = {}
    for i = 1, #fields, 2 do
      values[fields[i]] = fields[i + 1]
    end
    task = root .. values['f'] .. ':t:' .. values['t']
    if redis.call('HGET', task, 'e') ~= id then
      task = nil -- not the run's current attempt: dropped
    end
  end
  if task and limit > 0 and redis.call('HINCRBY', task, 'lo', 1) >= limit then
    redis.call('XCLAIM', stream, group, taker, 0, id)
    given_up[#given_up + 1] = {id, fields}
  else
    redis.call('XACK', stream, group, id)
    redis.call('XDEL', stream, id)
    if task then
      local new = redis.call('XADD', stream, '*', unpack(fields))
      redis.call('HSET', task, 'e', new)
      redis.call('HINCRBY', task, 'rc', 1)
    end
  end
end
if #pending < count then
  redis.call('XGROUP', 'DELCONSUMER', stream, group, consumer)
end
return {#pending, given_up}
