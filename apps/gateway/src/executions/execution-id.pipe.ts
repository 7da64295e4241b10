import { Injectable, NotFoundException, type PipeTransform } from '@nestjs/common';
import { isUuid } from '#common/ids.js';

/** The answer for an execution id that is not one: the same 404 as a run that does not exist, so ids cannot be probed. */
export const executionNotFound = (id: string) => `Execution ${id} not found`;

/** `:id` of an execution route: anything but a UUID is answered 404 here, before any service (or SQL) sees it. */
@Injectable()
export class ExecutionIdPipe implements PipeTransform<string, string> {
  transform(id: string): string {
    if (!isUuid(id)) throw new NotFoundException(executionNotFound(id));
    return id;
  }
}
