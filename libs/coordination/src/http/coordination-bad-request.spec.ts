import 'reflect-metadata';
import { BadRequestException, Catch, Controller, Get, HttpStatus, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import request from 'supertest';
import { bootApp } from '../../../../test/support/boot.js';
import { uniquePrefix } from '../../../../test/support/drivers.js';
import { TenantRequiredError } from '../errors/coordination.error.js';
import { CoordinationBadRequestException, asBadRequest } from './as-bad-request.js';
import { CoordinationExceptionFilter } from './coordination-exception.filter.js';
import { problemDetails } from './problem-details.js';

// A tenant 400 stays a Nest BadRequestException (second review, finding 11).

/** An application's own filter for every BadRequestException: it must still see tenant 400s. */
@Catch(BadRequestException)
class AppBadRequestFilter implements ExceptionFilter<BadRequestException> {
  catch(exception: BadRequestException, host: ArgumentsHost): void {
    host.switchToHttp().getResponse<{ status(code: number): { json(body: unknown): void } }>()
      .status(exception.getStatus()).json({ seenByApp: true, body: exception.getResponse() });
  }
}

@Controller('probe')
class ProbeController {
  @Get() probe() {
    return { ok: true };
  }
}

describe('CoordinationBadRequestException', () => {
  it('is a BadRequestException carrying the problem body and the error', () => {
    const error = new TenantRequiredError('CrewsController.run', 'send the x-tenant-id header');
    const exception = asBadRequest(error) as CoordinationBadRequestException;
    expect(exception).toBeInstanceOf(BadRequestException);
    expect(exception).toBeInstanceOf(CoordinationBadRequestException);
    expect(exception.headers).toEqual({});
    expect(exception.error).toBe(error);
    expect(exception.cause).toBe(error);
    expect(exception.getStatus()).toBe(HttpStatus.BAD_REQUEST);
    expect(exception.getResponse()).toEqual(
      problemDetails({ code: error.code, status: 400, title: error.name, detail: error.message, extensions: error.details }),
    );
    const other = new TypeError('x');
    expect(asBadRequest(other)).toBe(other);
  });

  it('an app\'s @Catch(BadRequestException) filter sees a tenant 400; CoordinationExceptionFilter still answers problem+json', async () => {
    const options = { driver: 'memory' as const, prefix: uniquePrefix('badreq'), health: { pingIntervalMs: 0 }, tenancy: { required: true } };
    const app = await bootApp(options, { controllers: [ProbeController], configure: (a) => a.useGlobalFilters(new AppBadRequestFilter()) });
    try {
      const seen = await request(app.app.getHttpServer()).get('/probe').expect(400);
      expect(seen.body).toMatchObject({ seenByApp: true, body: { type: 'urn:coordination:error:E_TENANT_REQUIRED', status: 400, code: 'E_TENANT_REQUIRED' } });
    } finally {
      await app.close();
    }
    const filtered = await bootApp({ ...options, prefix: uniquePrefix('badreq') }, {
      controllers: [ProbeController], configure: (a) => a.useGlobalFilters(new CoordinationExceptionFilter()),
    });
    try {
      const problem = await request(filtered.app.getHttpServer()).get('/probe').set('x-tenant-id', 'a*b').expect(400);
      expect(problem.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(problem.body).toMatchObject({ type: 'urn:coordination:error:E_TENANT_INVALID', title: 'TenantInvalidError', status: 400, code: 'E_TENANT_INVALID' });
    } finally {
      await filtered.close();
    }
  });
});
