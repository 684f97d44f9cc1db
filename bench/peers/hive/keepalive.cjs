// Preloaded into every Hive Gateway process (NODE_OPTIONS=--require, see
// bench/peers/hive.py). Node's global HTTP agent keeps idle upstream sockets
// for 5 s, exactly as long as the simulators' uvicorn keeps them: a request
// could go out on a socket the simulator was closing ("socket hang up").
// Idle sockets are dropped after 1 s instead, as a team would configure it
// after seeing those errors; under load no socket is idle that long.
const http = require('node:http');

http.globalAgent = new http.Agent({ keepAlive: true, timeout: 1000 });
