/**
 * Encrypted channels on real sockets with node:crypto per datagram — what a
 * process without the addon uses — forced with BLIPCAST_AEAD=node before any
 * channel opens (suite: test/channel-key.suite.ts).
 */
import test from 'ava';
import { AEAD_ENV } from '../src/crypto/aead';
import { keySuite } from './channel-key.suite';

process.env[AEAD_ENV] = 'node';
keySuite(test, 'node');
