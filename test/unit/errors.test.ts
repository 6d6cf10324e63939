import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defineErrorArea,
  ExtentlogError,
  type ErrorCodeTable,
} from '../../errors/extentlog-error.js';

const TABLE = {
  EXTENTLOG_ERR_TEST_TRANSIENT: { summary: 'a transient failure', retriable: true },
  EXTENTLOG_ERR_TEST_FATAL: { summary: 'a fatal failure', retriable: false },
} as const satisfies ErrorCodeTable;

class TestError extends defineErrorArea('TestError', TABLE) {}

test('an area error takes its retriable default from its table', () => {
  const error = new TestError(
    'EXTENTLOG_ERR_TEST_TRANSIENT',
    'broker 127.0.0.1:9092 refused the connection',
  );
  assert.ok(error instanceof ExtentlogError);
  assert.equal(error.name, 'TestError');
  assert.equal(error.code, 'EXTENTLOG_ERR_TEST_TRANSIENT');
  assert.equal(error.retriable, true);
  assert.equal(new TestError('EXTENTLOG_ERR_TEST_FATAL', 'x').retriable, false);
});

test('an area error keeps its cause and details and serialises them', () => {
  const cause = new Error('ECONNREFUSED');
  const error = new TestError('EXTENTLOG_ERR_TEST_FATAL', 'gave up', {
    cause,
    details: { host: '127.0.0.1' },
    retriable: true,
  });
  assert.equal(error.cause, cause);
  assert.equal(error.retriable, true);
  assert.deepEqual(error.toJSON(), {
    name: 'TestError',
    code: 'EXTENTLOG_ERR_TEST_FATAL',
    message: 'gave up',
    retriable: true,
    details: { host: '127.0.0.1' },
  });
});

test('an unknown code is refused at construction', () => {
  // @ts-expect-error the code is not in the table
  assert.throws(() => new TestError('EXTENTLOG_ERR_TEST_NOPE', 'x'), /unknown error code/);
});
