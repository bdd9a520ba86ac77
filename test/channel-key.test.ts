/** Encrypted channels on real sockets with the addon's batch AES-GCM (suite: test/channel-key.suite.ts). */
import test from 'ava';
import { keySuite } from './channel-key.suite';

keySuite(test, 'native');
