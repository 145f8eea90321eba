import { Injectable } from '@nestjs/common';

/** STUB (lead): replaced by the service helper. */
@Injectable()
export class IdempotencyService {}
