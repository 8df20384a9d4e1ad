-- Register a batch of task runs of one flow run; queue each at once if none of its upstreams
-- is unfinished, else leave it waiting in its hash (counted in 'w').
-- KEYS[1] queue stream
-- ARGV: flow-run prefix, flow run id, queue, ttl, then per task run: id, payload, upstream ids
--       (comma list), code address
local stream = KEYS[1]
local prefix, fr, queue, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local waiting_total = 0
for i = 5, #ARGV, 4 do
  local tid, payload, ups, code = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local task = prefix .. 't:' .. tid
  local waiting = 0
  for up in string.gmatch(ups, '[^,]+') do
    if redis.call('HGET', prefix .. 't:' .. up, 'f') ~= '1' then
      local deps = prefix .. 'd:' .. up
      redis.call('SADD', deps, tid)
      redis.call('EXPIRE', deps, ttl)
      waiting = waiting + 1
    end
  end
  local entry = ''
  if waiting == 0 then
    entry = redis.call('XADD', stream, '*', 'f', fr, 't', tid, 'p', payload, 'u', ups, 'n', 1,
      'c', code)
  end
  redis.call('HSET', task, 'r', fr, 'i', tid, 'p', payload, 'q', queue, 'u', ups, 'w', waiting,
    'n', 1, 'c', code, 'e', entry)
  redis.call('EXPIRE', task, ttl)
  waiting_total = waiting_total + waiting
end
return waiting_total
